using System.Diagnostics;

namespace MoePrune.Tokenization;

/// <summary>
/// Deterministic byte-level BPE training (GPT-2 byte ↔ character mapping). The text is cut at the special
/// tokens, split by the pre-tokenizer regex, and each piece becomes a word of byte symbols weighted by
/// its count. Then, until the vocabulary is full: the most frequent adjacent pair is merged everywhere
/// (left to right, non-overlapping). <b>Ties</b> go to the lexicographically smallest pair: compare
/// the left token strings ordinally (UTF-16 code units of their byte-level form, e.g. "Ġt"), then the
/// right ones. Pair counts are kept incrementally: a merge only revisits the words that contain the pair
/// (an index pair → words) and a lazy max-heap picks the next pair, so training costs about the number
/// of symbol occurrences touched, not a recount per merge.
/// </summary>
public sealed class BpeTrainer(BpeTrainerOptions options)
{
    public BpeTrainerOptions Options { get; } = options;

    public TrainedBpe Train(IEnumerable<string> texts)
    {
        int mergeBudget = Options.VocabSize - 256 - Options.SpecialTokens.Count;
        if (mergeBudget < 0)
            throw new MoePruneException($"--vocab-size {Options.VocabSize}: must be at least 256 + {Options.SpecialTokens.Count} special tokens");
        var clock = Stopwatch.StartNew();
        var wordCounts = CountWords(texts);
        var state = new MergeState(wordCounts);
        var merges = new List<(string Left, string Right)>();
        while (state.Tokens.Count < 256 + mergeBudget && state.TryPopBest(Options.MinFrequency, out int left, out int right))
            merges.Add(state.Merge(left, right));
        return new TrainedBpe(state.Tokens, merges, Options, wordCounts.Count, clock.Elapsed);
    }

    /// <summary>Byte-level pieces of every text and how often each occurs.</summary>
    Dictionary<string, long> CountWords(IEnumerable<string> texts)
    {
        var regex = new UnicodeRegex(Options.PreTokenizerPattern);
        var specials = new AddedVocabulary(Options.SpecialTokens.Select((t, i) => new AddedToken(i, t, true, false, false, false, false)).ToList());
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var text in texts)
            foreach (var segment in specials.Split(text))
            {
                if (segment.Token is not null) continue;
                foreach (var (start, length) in regex.Matches(segment.Text))
                {
                    string word = ByteLevelAlphabet.Encode(segment.Text.AsSpan(start, length));
                    counts[word] = counts.GetValueOrDefault(word) + 1;
                }
            }
        return counts;
    }

    /// <summary>Words as symbol-id arrays, pair counts, pair → words index and the lazy heap.</summary>
    sealed class MergeState
    {
        public readonly List<string> Tokens = [];
        readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
        readonly List<int[]> _words = [];
        readonly List<long> _wordCounts = [];
        readonly Dictionary<long, long> _pairCounts = new(PairKey.Comparer);
        readonly Dictionary<long, HashSet<int>> _pairWords = new(PairKey.Comparer);
        readonly PriorityQueue<long, (long Count, int Left, int Right)> _heap;

        public MergeState(Dictionary<string, long> wordCounts)
        {
            for (int b = 0; b < 256; b++) AddToken(ByteLevelAlphabet.CharOf((byte)b).ToString());
            _heap = new PriorityQueue<long, (long Count, int Left, int Right)>(Comparer<(long Count, int Left, int Right)>.Create(ComparePriority));
            foreach (var (word, count) in wordCounts.OrderBy(w => w.Key, StringComparer.Ordinal))
            {
                int index = _words.Count;
                _words.Add(word.Select(c => (int)ByteLevelAlphabet.ByteOf(c)!.Value).ToArray());
                _wordCounts.Add(count);
                AddPairs(index, +1, null);
            }
            foreach (var (key, count) in _pairCounts) _heap.Enqueue(key, (count, PairKey.Left(key), PairKey.Right(key)));
        }

        /// <summary>Higher count first; on a tie the ordinally smaller (left, right) token strings.</summary>
        int ComparePriority((long Count, int Left, int Right) a, (long Count, int Left, int Right) b)
        {
            if (a.Count != b.Count) return b.Count.CompareTo(a.Count);
            int c = string.CompareOrdinal(Tokens[a.Left], Tokens[b.Left]);
            return c != 0 ? c : string.CompareOrdinal(Tokens[a.Right], Tokens[b.Right]);
        }

        int AddToken(string token)
        {
            if (_ids.TryGetValue(token, out int id)) return id;
            _ids[token] = Tokens.Count;
            Tokens.Add(token);
            return Tokens.Count - 1;
        }

        static long Key(int a, int b) => PairKey.Of(a, b);

        public bool TryPopBest(int minFrequency, out int left, out int right)
        {
            while (_heap.TryDequeue(out long key, out var priority))
            {
                if (_pairCounts.GetValueOrDefault(key) != priority.Count) continue;   // stale entry
                if (priority.Count < Math.Max(1, minFrequency)) break;
                (left, right) = (priority.Left, priority.Right);
                return true;
            }
            (left, right) = (-1, -1);
            return false;
        }

        /// <summary>Merges (left, right) in every word holding it and updates the pair counts.</summary>
        public (string, string) Merge(int left, int right)
        {
            int merged = AddToken(Tokens[left] + Tokens[right]);
            var delta = new Dictionary<long, long>(PairKey.Comparer);
            var holders = _pairWords[Key(left, right)].Order().ToList();
            foreach (int w in holders)
            {
                AddPairs(w, -1, delta);
                _words[w] = MergeWord(_words[w], left, right, merged);
                AddPairs(w, +1, delta);
            }
            foreach (var (key, change) in delta)
            {
                if (change == 0) continue;
                long count = _pairCounts.GetValueOrDefault(key) + change;
                if (count == 0) _pairCounts.Remove(key);
                else
                {
                    _pairCounts[key] = count;
                    _heap.Enqueue(key, (count, PairKey.Left(key), PairKey.Right(key)));
                }
            }
            return (Tokens[left], Tokens[right]);
        }

        /// <summary>Adds (sign +1) or removes (−1) the weighted pairs of word <paramref name="w"/>.</summary>
        void AddPairs(int w, int sign, Dictionary<long, long>? delta)
        {
            var symbols = _words[w];
            long weight = sign * _wordCounts[w];
            for (int i = 0; i + 1 < symbols.Length; i++)
            {
                long key = Key(symbols[i], symbols[i + 1]);
                if (delta is null) _pairCounts[key] = _pairCounts.GetValueOrDefault(key) + weight;
                else delta[key] = delta.GetValueOrDefault(key) + weight;
                if (sign > 0)
                {
                    if (!_pairWords.TryGetValue(key, out var set)) _pairWords[key] = set = [];
                    set.Add(w);
                }
            }
        }

        static int[] MergeWord(int[] symbols, int left, int right, int merged)
        {
            var result = new List<int>(symbols.Length);
            for (int i = 0; i < symbols.Length; i++)
            {
                if (i + 1 < symbols.Length && symbols[i] == left && symbols[i + 1] == right) { result.Add(merged); i++; }
                else result.Add(symbols[i]);
            }
            return result.ToArray();
        }
    }
}
