using System.Text.Json.Nodes;
using MoePrune.IO;
using Xunit;
using Xunit.Abstractions;

namespace MoePrune.Tests.IO;

public class JsonFileTests(ITestOutputHelper output)
{
    MoePruneException ReadFails(string path)
    {
        var e = Assert.Throws<MoePruneException>(() => JsonFile.ReadObject(path));
        output.WriteLine(e.Message);
        Assert.StartsWith(path + ":", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        return e;
    }

    [Fact]
    public void ReadErrorsNameTheFileAndTheProblem()
    {
        using var dir = new TempDir();
        Assert.EndsWith(": file not found", ReadFails(dir["absent.json"]).Message);

        File.WriteAllText(dir["bad.json"], "{\n  \"a\": 1,\n  \"b\": [1, 2,\n}");
        Assert.EndsWith(": not valid JSON (line 4, column 1: '}' is an invalid start of a value)", ReadFails(dir["bad.json"]).Message);

        File.WriteAllText(dir["trailing.json"], "{\"a\": 1} extra");
        Assert.Contains(": not valid JSON (line 1, column 10: ", ReadFails(dir["trailing.json"]).Message);

        File.WriteAllText(dir["dup.json"], "{\"a\": 1, \"a\": 2}");
        Assert.Contains(": not valid JSON", ReadFails(dir["dup.json"]).Message);

        File.WriteAllText(dir["empty.json"], "");
        Assert.Contains(": not valid JSON", ReadFails(dir["empty.json"]).Message);

        File.WriteAllText(dir["num.json"], "42");
        Assert.EndsWith(": expected a JSON object, found a number", ReadFails(dir["num.json"]).Message);
        File.WriteAllText(dir["null.json"], "null");
        Assert.EndsWith(": expected a JSON object, found null", ReadFails(dir["null.json"]).Message);
    }

    [Fact]
    public void WriteAtomicKeepsKeyOrderAndUnicodeAndLeavesNoTemporary()
    {
        using var dir = new TempDir();
        var node = new JsonObject
        {
            ["z"] = 1.5, ["a"] = "héllo → 世界", ["m"] = new JsonObject { ["inner"] = new JsonArray(1, null, true) },
            ["big"] = 5_000_000_000L,
        };
        string path = dir["out.json"];
        File.WriteAllText(path, "old content that is longer than the new one ............................................");
        JsonFile.WriteAtomic(path, node);
        string text = File.ReadAllText(path);
        output.WriteLine(text);
        Assert.EndsWith("}\n", text);
        Assert.Contains("héllo → 世界", text);
        Assert.Contains("\n  \"z\": 1.5,", text);                              // two-space indentation
        var back = JsonFile.ReadObject(path);
        Assert.Equal(["z", "a", "m", "big"], back.Select(kv => kv.Key));
        Assert.True(JsonNode.DeepEquals(node, back));
        Assert.Equal(["out.json"], Directory.GetFiles(dir.Path).Select(Path.GetFileName));

        var e = Assert.Throws<MoePruneException>(() => JsonFile.WriteAtomic(dir["no/such/dir/x.json"], node));
        Assert.Contains("does not exist", e.Message);
    }
}
