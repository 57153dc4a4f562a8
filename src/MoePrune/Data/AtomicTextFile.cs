namespace MoePrune.Data;

/// <summary>Writes a file under a temporary name in the same folder and renames it into place when complete.</summary>
internal static class AtomicTextFile
{
    public static void WriteText(string path, string text) => Write(path, w => w.Write(text));

    /// <summary>Writes each item followed by a newline.</summary>
    public static void WriteLines(string path, IEnumerable<string> lines) => Write(path, w =>
    {
        foreach (string line in lines) w.Write(line + "\n");
    });

    static void Write(string path, Action<StreamWriter> body)
    {
        string full = Path.GetFullPath(path);
        string tmp = full + $".tmp-{Environment.ProcessId}";
        try
        {
            using (var w = new StreamWriter(tmp, append: false, new System.Text.UTF8Encoding(false))) body(w);
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            if (File.Exists(tmp)) File.Delete(tmp);
            throw;
        }
    }
}
