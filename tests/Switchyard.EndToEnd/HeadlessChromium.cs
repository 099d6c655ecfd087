// Drives Debian's headless chromium through the Chrome DevTools Protocol, for tests of the web view.
//
// Theory of operation: chromium is started with --remote-debugging-port=0 and a fresh profile
// directory; it writes the port it chose to DevToolsActivePort in that directory (and says "DevTools
// listening on ws://..." on stderr). /json/list on that port names the page target's WebSocket, and
// CDP commands go over it as JSON ({id, method, params} -> {id, result | error}); events (no id) are
// ignored. Only the chromium process started here, and its own children, are ever killed, by its
// Process object; the profile directory is deleted afterwards. Nothing is downloaded: the binary is
// /usr/bin/chromium (./test installs it).
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Switchyard.EndToEnd;

public sealed class HeadlessChromium : IAsyncDisposable
{
    public const string BinaryPath = "/usr/bin/chromium";

    private readonly Process process;
    private readonly DirectoryInfo profile;
    private readonly ClientWebSocket socket = new();
    private readonly ConcurrentDictionary<int, TaskCompletionSource<JsonElement>> pending = new();
    private readonly CancellationTokenSource stop = new();
    private readonly StringBuilder stderr = new();
    private Task? receiver;
    private int nextId;

    private HeadlessChromium(Process process, DirectoryInfo profile)
    {
        this.process = process;
        this.profile = profile;
    }

    /// <summary>Why chromium cannot be used here, or null when it can.</summary>
    public static string? Unavailable() => File.Exists(BinaryPath) ? null : $"needs {BinaryPath} (apt-get install chromium; ./test installs it)";

    /// <summary>What chromium said on stderr so far (for failure messages).</summary>
    public string Log
    {
        get
        {
            lock (stderr)
            {
                return stderr.ToString();
            }
        }
    }

    /// <summary>Starts chromium with a <paramref name="width"/> × <paramref name="height"/> window and attaches to its page.</summary>
    public static async Task<HeadlessChromium> StartAsync(int width, int height)
    {
        DirectoryInfo profile = Directory.CreateTempSubdirectory("sy-chromium-");
        var psi = new ProcessStartInfo(BinaryPath)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (string arg in (string[])[
            "--headless=new", "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1", $"--user-data-dir={profile.FullName}",
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
            "--disable-extensions", "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--hide-scrollbars", "--mute-audio", "--force-color-profile=srgb",
            string.Create(CultureInfo.InvariantCulture, $"--window-size={width},{height}"), "about:blank"])
        {
            psi.ArgumentList.Add(arg);
        }

        var process = new Process { StartInfo = psi };
        var browser = new HeadlessChromium(process, profile);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (browser.stderr)
                {
                    browser.stderr.AppendLine(e.Data);
                }
            }
        };
        process.OutputDataReceived += (_, _) => { };
        try
        {
            process.Start();
            process.BeginErrorReadLine();
            process.BeginOutputReadLine();
            await browser.AttachAsync().ConfigureAwait(false);
            await browser.SendAsync("Page.enable").ConfigureAwait(false);
            await browser.SendAsync("Runtime.enable").ConfigureAwait(false);
            return browser;
        }
        catch
        {
            await browser.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Sends one CDP command and returns its result; throws with the protocol's error message.</summary>
    public async Task<JsonElement> SendAsync(string method, JsonObject? parameters = null, TimeSpan? timeout = null)
    {
        int id = Interlocked.Increment(ref nextId);
        var message = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters ?? [] };
        var reply = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        pending[id] = reply;
        byte[] bytes = Encoding.UTF8.GetBytes(message.ToJsonString());
        await socket.SendAsync(bytes, WebSocketMessageType.Text, endOfMessage: true, stop.Token).ConfigureAwait(false);
        JsonElement answer = await reply.Task.WaitAsync(timeout ?? TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        if (answer.TryGetProperty("error", out JsonElement error))
        {
            throw new InvalidOperationException($"{method}: {error}");
        }

        return answer.GetProperty("result");
    }

    /// <summary>Navigates and waits until the document has loaded.</summary>
    public async Task NavigateAsync(Uri url)
    {
        ArgumentNullException.ThrowIfNull(url);
        JsonElement result = await SendAsync("Page.navigate", new JsonObject { ["url"] = url.ToString() }).ConfigureAwait(false);
        if (result.TryGetProperty("errorText", out JsonElement errorText))
        {
            throw new InvalidOperationException($"navigating to {url} failed: {errorText}");
        }

        var clock = Stopwatch.StartNew();
        while (await EvaluateAsync("document.readyState").ConfigureAwait(false) is not { ValueKind: JsonValueKind.String } state || state.GetString() != "complete")
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new TimeoutException($"{url} did not finish loading");
            }

            await Task.Delay(100).ConfigureAwait(false);
        }
    }

    /// <summary>Evaluates <paramref name="expression"/> in the page (promises awaited) and returns its value as JSON.</summary>
    public async Task<JsonElement> EvaluateAsync(string expression)
    {
        JsonElement result = await SendAsync("Runtime.evaluate", new JsonObject
        {
            ["expression"] = expression,
            ["returnByValue"] = true,
            ["awaitPromise"] = true,
        }).ConfigureAwait(false);
        if (result.TryGetProperty("exceptionDetails", out JsonElement exception))
        {
            throw new InvalidOperationException($"page script failed: {exception}");
        }

        return result.GetProperty("result").TryGetProperty("value", out JsonElement value) ? value.Clone() : default;
    }

    /// <summary>Polls <paramref name="expression"/> until it evaluates to true; returns false after <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForAsync(string expression, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        do
        {
            if (await EvaluateAsync(expression).ConfigureAwait(false) is { ValueKind: JsonValueKind.True })
            {
                return true;
            }

            await Task.Delay(250).ConfigureAwait(false);
        }
        while (clock.Elapsed < timeout);
        return false;
    }

    /// <summary>A PNG of the whole page at <paramref name="width"/> CSS pixels wide.</summary>
    public async Task<byte[]> ScreenshotAsync(int width)
    {
        JsonElement height = await EvaluateAsync("Math.ceil(document.documentElement.scrollHeight)").ConfigureAwait(false);
        await SendAsync("Emulation.setDeviceMetricsOverride", new JsonObject
        {
            ["width"] = width,
            ["height"] = Math.Clamp(height.GetInt32(), 300, 4000),
            ["deviceScaleFactor"] = 1,
            ["mobile"] = false,
        }).ConfigureAwait(false);
        await Task.Delay(300).ConfigureAwait(false); // Let the page redraw its links for the new size.
        JsonElement shot = await SendAsync("Page.captureScreenshot", new JsonObject { ["format"] = "png" }).ConfigureAwait(false);
        return Convert.FromBase64String(shot.GetProperty("data").GetString()!);
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync().ConfigureAwait(false);
        socket.Abort();
        socket.Dispose();
        if (receiver is not null)
        {
            try
            {
                await receiver.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException)
            {
                // Closing.
            }
        }

        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(15)).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            // Never started.
        }

        process.Dispose();
        stop.Dispose();
        for (int attempt = 0; attempt < 10 && profile.Exists; attempt++)
        {
            try
            {
                profile.Delete(recursive: true);
            }
            catch (IOException)
            {
                await Task.Delay(200).ConfigureAwait(false); // A child may still be writing as it exits.
            }

            profile.Refresh();
        }
    }

    private async Task AttachAsync()
    {
        // DevToolsActivePort: the port on the first line, the browser target's path on the second.
        string portFile = Path.Combine(profile.FullName, "DevToolsActivePort");
        var clock = Stopwatch.StartNew();
        int port = 0;
        while (port == 0)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"chromium exited ({process.ExitCode}) before it listened:\n{Log}");
            }

            if (clock.Elapsed > TimeSpan.FromSeconds(60))
            {
                throw new TimeoutException($"chromium did not open its DevTools port:\n{Log}");
            }

            if (File.Exists(portFile) && File.ReadAllLines(portFile) is [var first, ..] && int.TryParse(first, CultureInfo.InvariantCulture, out int p) && p > 0)
            {
                port = p;
            }
            else
            {
                await Task.Delay(100).ConfigureAwait(false);
            }
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        string? pageSocket = null;
        while (pageSocket is null)
        {
            string list = await http.GetStringAsync(new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/json/list")).ConfigureAwait(false);
            using JsonDocument targets = JsonDocument.Parse(list);
            pageSocket = targets.RootElement.EnumerateArray()
                .Where(t => t.GetProperty("type").GetString() == "page")
                .Select(t => t.GetProperty("webSocketDebuggerUrl").GetString())
                .FirstOrDefault();
            if (pageSocket is null)
            {
                if (clock.Elapsed > TimeSpan.FromSeconds(60))
                {
                    throw new TimeoutException($"chromium has no page target: {list}");
                }

                await Task.Delay(100).ConfigureAwait(false);
            }
        }

        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        await socket.ConnectAsync(new Uri(pageSocket), stop.Token).ConfigureAwait(false);
        receiver = Task.Run(ReceiveLoopAsync);
    }

    private async Task ReceiveLoopAsync()
    {
        byte[] buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        while (!stop.IsCancellationRequested && socket.State == WebSocketState.Open)
        {
            WebSocketReceiveResult r = await socket.ReceiveAsync(buffer, stop.Token).ConfigureAwait(false);
            if (r.MessageType == WebSocketMessageType.Close)
            {
                break;
            }

            message.Write(buffer, 0, r.Count);
            if (!r.EndOfMessage)
            {
                continue;
            }

            using (JsonDocument doc = JsonDocument.Parse(message.ToArray()))
            {
                if (doc.RootElement.TryGetProperty("id", out JsonElement id) && pending.TryRemove(id.GetInt32(), out TaskCompletionSource<JsonElement>? reply))
                {
                    reply.TrySetResult(doc.RootElement.Clone());
                }
            }

            message.SetLength(0);
        }

        foreach (TaskCompletionSource<JsonElement> reply in pending.Values)
        {
            reply.TrySetException(new InvalidOperationException($"chromium closed the DevTools connection:\n{Log}"));
        }
    }
}
