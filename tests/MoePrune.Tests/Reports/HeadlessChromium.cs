using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Xunit;

namespace MoePrune.Tests.Reports;

/// <summary>
/// Debian's headless Chromium driven over the DevTools protocol on a loopback port: opens a page, waits for
/// its load event, collects console errors, exceptions and failed loads, evaluates an expression, and takes a
/// screenshot. Started with --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking
/// (and a throwaway profile), so it reaches nothing beyond the page's own files.
/// </summary>
sealed partial class HeadlessChromium : IDisposable
{
    readonly Process _process;
    readonly ClientWebSocket _socket = new();
    readonly string _profile = Directory.CreateTempSubdirectory("moeprune-chromium-").FullName;
    readonly List<string> _problems = [];
    int _nextId;

    public static string? Executable =>
        new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists);

    /// <summary>Errors seen so far: console errors, uncaught exceptions, failed requests.</summary>
    public IReadOnlyList<string> Problems => _problems;

    public HeadlessChromium()
    {
        var psi = new ProcessStartInfo(Executable ?? throw new InvalidOperationException("chromium not installed"))
        {
            RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false,
        };
        foreach (var arg in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                                    "--disable-component-update", "--disable-sync", "--disable-default-apps", "--mute-audio",
                                    $"--user-data-dir={_profile}", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
                                    "--window-size=1100,900", "about:blank" })
            psi.ArgumentList.Add(arg);
        _process = Process.Start(psi)!;
        _process.StandardOutput.ReadToEndAsync();
        string? browserWs = null;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (browserWs is null && DateTime.UtcNow < deadline)
        {
            var line = _process.StandardError.ReadLine() ?? throw new InvalidOperationException("chromium exited before listening");
            var m = DevToolsLine().Match(line);
            if (m.Success) browserWs = m.Groups[1].Value;
        }
        _process.StandardError.ReadToEndAsync();
        if (browserWs is null) throw new TimeoutException("chromium did not print its DevTools address");
        var port = new Uri(browserWs).Port;
        using var http = new HttpClient();
        var targets = JsonNode.Parse(http.GetStringAsync($"http://127.0.0.1:{port}/json/list").Result)!.AsArray();
        var page = targets.First(t => (string?)t!["type"] == "page")!;
        _socket.ConnectAsync(new Uri((string)page["webSocketDebuggerUrl"]!), CancellationToken.None).Wait(TimeSpan.FromSeconds(30));
        Send("Page.enable");
        Send("Runtime.enable");
        Send("Log.enable");
        Send("Network.enable");
    }

    /// <summary>Navigates to <paramref name="url"/> and waits for the load event.</summary>
    public void Open(string url)
    {
        Send("Page.navigate", new JsonObject { ["url"] = url });
        WaitFor(m => (string?)m["method"] == "Page.loadEventFired", TimeSpan.FromSeconds(60));
    }

    /// <summary>The JSON value of a JavaScript expression (returned by value).</summary>
    public JsonNode? Evaluate(string expression)
    {
        var result = Send("Runtime.evaluate", new JsonObject { ["expression"] = expression, ["returnByValue"] = true, ["awaitPromise"] = true });
        if (result["exceptionDetails"] is JsonNode e) throw new InvalidOperationException("page script failed: " + e.ToJsonString());
        return result["result"]?["value"];
    }

    /// <summary>A full-page PNG screenshot.</summary>
    public byte[] Screenshot()
    {
        var result = Send("Page.captureScreenshot", new JsonObject { ["format"] = "png", ["captureBeyondViewport"] = true });
        return Convert.FromBase64String((string)result["data"]!);
    }

    JsonObject Send(string method, JsonObject? parameters = null)
    {
        int id = ++_nextId;
        var message = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters ?? new JsonObject() };
        _socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, CancellationToken.None).Wait();
        var reply = WaitFor(m => (int?)m["id"] == id, TimeSpan.FromSeconds(60));
        if (reply["error"] is JsonNode error) throw new InvalidOperationException($"{method}: {error.ToJsonString()}");
        return reply["result"] as JsonObject ?? new JsonObject();
    }

    JsonObject WaitFor(Func<JsonObject, bool> match, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            var message = Receive(deadline - DateTime.UtcNow);
            Record(message);
            if (match(message)) return message;
        }
        throw new TimeoutException("no DevTools reply in time");
    }

    JsonObject Receive(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var buffer = new byte[1 << 16];
        using var text = new MemoryStream();
        WebSocketReceiveResult r;
        do
        {
            r = _socket.ReceiveAsync(buffer, cts.Token).Result;
            text.Write(buffer, 0, r.Count);
        } while (!r.EndOfMessage);
        return JsonNode.Parse(text.ToArray())!.AsObject();
    }

    void Record(JsonObject m)
    {
        var p = m["params"];
        string? method = (string?)m["method"];
        if (method == "Runtime.exceptionThrown") _problems.Add("exception: " + p?["exceptionDetails"]?.ToJsonString());
        else if (method == "Runtime.consoleAPICalled" && (string?)p?["type"] == "error") _problems.Add("console error: " + p?["args"]?.ToJsonString());
        else if (method == "Log.entryAdded" && (string?)p?["entry"]?["level"] == "error") _problems.Add("log error: " + p?["entry"]?["text"]);
        else if (method == "Network.loadingFailed") _problems.Add("failed load: " + p?["errorText"]);
    }

    public void Dispose()
    {
        try { _socket.Dispose(); } catch (ObjectDisposedException) { }
        try { if (!_process.HasExited) _process.Kill(entireProcessTree: true); _process.WaitForExit(10_000); } catch (InvalidOperationException) { }
        _process.Dispose();
        try { Directory.Delete(_profile, recursive: true); } catch (IOException) { }
    }

    [GeneratedRegex(@"DevTools listening on (ws://\S+)")]
    private static partial Regex DevToolsLine();
}

/// <summary>A fact that needs Debian's chromium: skipped, saying so, where it is not installed (.ci/run installs it).</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        if (HeadlessChromium.Executable is null) Skip = "chromium is not installed (apt-get install chromium); the browser check of the HTML report is skipped";
    }
}
