namespace MoePrune.Training;

/// <summary>
/// The order in which a data source visits its <c>count</c> items in one epoch: a Fisher–Yates shuffle seeded
/// by (seed, epoch), so that the item at a global position depends only on (seed, position).
/// </summary>
public sealed class EpochOrder(int count, long seed)
{
    private readonly Dictionary<long, int[]> _orders = [];

    public int Count { get; } = count;

    public int[] Of(long epoch)
    {
        if (_orders.TryGetValue(epoch, out var cached)) return cached;
        var order = Enumerable.Range(0, Count).ToArray();
        var rng = new Random(unchecked((int)(seed * 1_000_003 + epoch * 7919 + 17)));
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        if (_orders.Count > 4) _orders.Clear();
        return _orders[epoch] = order;
    }

    /// <summary>The item visited at global position <paramref name="position"/>.</summary>
    public int At(long position) => Of(position / Count)[position % Count];
}
