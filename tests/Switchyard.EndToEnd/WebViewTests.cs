// The web view against real peers: the published daemon with --http, a vhost-user guest and a
// stream (e1000) guest that take DHCP leases and ping each other, and Debian's headless chromium
// loading the page. The page must draw both guests' ports (names, kinds, MACs, leased addresses),
// the gateway, and nonzero throughput while they ping; the stream port must disappear from the page
// when its guest powers off. A screenshot is saved as a test artifact (TestResults/webview.png under
// the test's output directory); with SWITCHYARD_UPDATE_DOCS_SCREENSHOT=1 it also replaces
// docs/images/webview.png.
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Switchyard.TestKit;
using Switchyard.TestKit.Qemu;
using Xunit.Abstractions;
using static Switchyard.TestKit.Qemu.VhostUserGuests;
using static Switchyard.TestKit.Qemu.GuestScripts;

namespace Switchyard.EndToEnd;

/// <summary>A fact that needs QEMU with the test guest image and /usr/bin/chromium.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class RequiresGuestAndChromiumFactAttribute : FactAttribute
{
    public RequiresGuestAndChromiumFactAttribute()
    {
        if (HeadlessChromium.Unavailable() is { } noBrowser)
            Skip = noBrowser;
        else if (!GuestImage.TryGet(out _, out string whyNot))
            Skip = whyNot;
    }
}

public sealed partial class WebViewTests(ITestOutputHelper output)
{
    private const int Width = 1400;
    private static readonly TimeSpan GuestTimeout = TimeSpan.FromSeconds(240);
    private static readonly TimeSpan PageTimeout = TimeSpan.FromSeconds(30);

    [RequiresGuestAndChromiumFact]
    public async Task WebView_VhostUserAndStreamGuestsPinging_DrawsBothPortsTheGatewayAndLiveThroughput()
    {
        int port = LoopbackPorts.GetFreeTcpPort();
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(
            extraArgs: ["--http", string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{port}")], log: output.WriteLine);
        var url = new Uri(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}/"));

        // The banner line docs/web.md shows, with this port.
        string documented = DocLine("web.md", "switchyard: web view ").Replace("8080", port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        Assert.Contains(documented, sy.Output, StringComparison.Ordinal);

        // Both guests lease an address from the gateway (with a hostname), add a test address, then ping
        // each other; b stops first and powers off, so its port goes away while a is still there.
        await using QemuGuest a = QemuGuest.Start(Guest(
            "a", Socket(sy), 1, Shebang + DhcpWithHostname("web-a") + StaticIPv4(1) + WaitForPing(TestAddress(2), attempts: 180)
                + "echo A-PINGING\nping -c 90 -s 1000 10.0.0.2 >/dev/null; echo A-PINGED\n",
            output.WriteLine));
        await using QemuGuest b = QemuGuest.Start(StreamGuest(
            "b", sy.StreamSocket, 2, Shebang + DhcpWithHostname("web-b") + StaticIPv4(2) + WaitForPing(TestAddress(1), attempts: 180)
                + "echo B-PINGING\nping -c 40 -s 1000 10.0.0.1 >/dev/null; echo B-PINGED\n",
            output.WriteLine));
        await a.WaitForLineAsync("A-PINGING", GuestTimeout);
        await b.WaitForLineAsync("B-PINGING", GuestTimeout);

        // The real binary's /metrics already counts the vhost-user guest's frames.
        using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) })
        {
            string metrics = await http.GetStringAsync(new Uri(url, "metrics"));
            Match rx = VhostUserRxFrames().Match(metrics);
            Assert.True(rx.Success && long.Parse(rx.Groups[1].ValueSpan, CultureInfo.InvariantCulture) > 0, "no vhost-user rx frames in /metrics:\n" + metrics);
        }

        await using HeadlessChromium browser = await HeadlessChromium.StartAsync(Width, 1000);
        await browser.NavigateAsync(url);
        Assert.True(
            await browser.WaitForAsync("document.querySelector('[data-port^=\"vhost-user.\"][data-kind=\"vhost-user\"]') !== null && document.querySelector('[data-port^=\"stream.\"][data-kind=\"stream\"]') !== null", PageTimeout),
            "the page never showed both guests' ports:\n" + await PageTextAsync(browser) + "\n" + browser.Log);

        // Names, kinds, who is behind each port, and the gateway with its addresses.
        JsonElement nodes = await browser.EvaluateAsync(
            "[...document.querySelectorAll('[data-port]')].map(n => ({ port: n.dataset.port, kind: n.dataset.kind, badge: n.querySelector('.kind').textContent, text: n.innerText }))");
        output.WriteLine(nodes.ToString());
        JsonElement vhost = Assert.Single(nodes.EnumerateArray(), n => n.GetProperty("kind").GetString() == "vhost-user");
        JsonElement stream = Assert.Single(nodes.EnumerateArray(), n => n.GetProperty("kind").GetString() == "stream");
        JsonElement gateway = Assert.Single(nodes.EnumerateArray(), n => n.GetProperty("kind").GetString() == "gateway");
        Assert.Equal("vhost-user.1", vhost.GetProperty("port").GetString());
        Assert.Equal("vhost-user", vhost.GetProperty("badge").GetString());
        Assert.Equal("stream.1", stream.GetProperty("port").GetString());
        Assert.Equal("stream", stream.GetProperty("badge").GetString());
        Assert.Equal("gateway", gateway.GetProperty("port").GetString());
        Assert.Contains(QemuGuest.Mac(1), vhost.GetProperty("text").GetString(), StringComparison.OrdinalIgnoreCase);
        Assert.Contains(QemuGuest.Mac(2), stream.GetProperty("text").GetString(), StringComparison.OrdinalIgnoreCase);
        Assert.Matches(@"10\.0\.2\.1[56]", vhost.GetProperty("text").GetString());
        Assert.Matches(@"10\.0\.2\.1[56]", stream.GetProperty("text").GetString());
        Assert.Contains("web-a", vhost.GetProperty("text").GetString(), StringComparison.Ordinal);
        Assert.Contains("router 10.0.2.2", gateway.GetProperty("text").GetString(), StringComparison.Ordinal);
        Assert.Contains("DNS 10.0.2.3", gateway.GetProperty("text").GetString(), StringComparison.Ordinal);
        string page = await PageTextAsync(browser);
        Assert.Contains("DHCP LEASES", page.ToUpperInvariant(), StringComparison.Ordinal);
        Assert.Contains("web-b", page, StringComparison.Ordinal);
        Assert.Contains("switch", await TextAsync(browser, "[data-role=\"switch\"]"), StringComparison.Ordinal);

        // Throughput from counter deltas: nonzero on both guests' ports while they ping, as a number and as text.
        Assert.True(
            await browser.WaitForAsync("['vhost-user', 'stream'].every(k => { const n = document.querySelector(`[data-port][data-kind=\"${k}\"]`); return n && Number(n.dataset.rxBps) > 0 && Number(n.dataset.txBps) > 0; })", PageTimeout),
            "throughput never became nonzero:\n" + await PageTextAsync(browser));
        string rate = await TextAsync(browser, "[data-kind=\"vhost-user\"] .rates .v.rx");
        output.WriteLine($"vhost-user in: {rate}");
        Assert.Matches(@"^[0-9.]+ (k|M|G)?bit/s", rate);
        Assert.DoesNotMatch(@"^0 bit/s", rate);
        Assert.Equal("live", (await browser.EvaluateAsync("document.getElementById('status').dataset.status")).GetString());

        byte[] png = await browser.ScreenshotAsync(Width);
        string artifact = Path.Combine(AppContext.BaseDirectory, "TestResults", "webview.png");
        Directory.CreateDirectory(Path.GetDirectoryName(artifact)!);
        await File.WriteAllBytesAsync(artifact, png);
        output.WriteLine($"screenshot: {artifact} ({png.Length} bytes)");
        Assert.True(png.Length > 10_000 && png[1] == (byte)'P' && png[2] == (byte)'N' && png[3] == (byte)'G', "not a PNG of a drawn page");
        if (Environment.GetEnvironmentVariable("SWITCHYARD_UPDATE_DOCS_SCREENSHOT") == "1" && GuestImage.FindRepositoryRoot(AppContext.BaseDirectory) is { } root)
            File.Copy(artifact, Path.Combine(root, "docs", "images", "webview.png"), overwrite: true);

        // b powers off: its port leaves the page without a reload, a's stays.
        GuestResult bDone = await b.RunToCompletionAsync(GuestTimeout);
        Assert.True(bDone.Succeeded, b.Describe($"guest b failed rc={bDone.ExitCode}"));
        Assert.True(
            await browser.WaitForAsync("document.querySelector('[data-port][data-kind=\"stream\"]') === null && document.querySelector('[data-port][data-kind=\"vhost-user\"]') !== null", PageTimeout),
            "the stream port stayed on the page after its guest went away:\n" + await PageTextAsync(browser));

        // A port set down is marked on the page, and cleared when it is set up again.
        Assert.Equal(0, (await sy.CliAsync("port", "set", "default", "vhost-user.1", "--link", "down")).ExitCode);
        Assert.True(
            await browser.WaitForAsync("document.querySelector('[data-port=\"vhost-user.1\"][data-link=\"down\"] .linkdown')?.textContent === 'link down'", PageTimeout),
            "the page never marked vhost-user.1 link down:\n" + await PageTextAsync(browser));
        Assert.Equal(0, (await sy.CliAsync("port", "set", "default", "vhost-user.1", "--link", "up")).ExitCode);
        Assert.True(await browser.WaitForAsync("document.querySelector('[data-port=\"vhost-user.1\"][data-link=\"up\"]') !== null", PageTimeout));
    }

    [Fact]
    public async Task Up_HttpPortZero_PrintsTheChosenAddressAndServesPageStateAndMetrics()
    {
        await using SwitchyardProcess sy = await SwitchyardProcess.StartAsync(extraArgs: ["--http", "127.0.0.1:0"], log: output.WriteLine);
        Match banner = WebViewBanner().Match(sy.Output);
        Assert.True(banner.Success, "no web view line in:\n" + sy.Output);
        var url = new Uri(banner.Groups[1].Value);
        Assert.NotEqual(0, url.Port);
        Assert.Equal(url + "metrics", banner.Groups[2].Value);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        Assert.Contains("<title>Switchyard</title>", await http.GetStringAsync(url), StringComparison.Ordinal);
        using JsonDocument state = JsonDocument.Parse(await http.GetStringAsync(new Uri(url, "api/state")));
        Assert.Equal(sy.RunDirectory, state.RootElement.GetProperty("runDirectory").GetString());
        using HttpResponseMessage metrics = await http.GetAsync(new Uri(url, "metrics"));
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", metrics.Content.Headers.ContentType?.ToString());
        Assert.Contains("switchyard_ports{network=\"default\",kind=\"gateway\"} 1", await metrics.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // The listener goes with the daemon.
        Assert.Equal(0, await sy.StopAsync());
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetStringAsync(new Uri(url, "api/state")));
    }

    // udhcpc with the DHCP hostname option, so the lease (and the page) names the guest.
    private static string DhcpWithHostname(string hostname) =>
        $"timeout 25 udhcpc -i eth0 -n -q -t 15 -T 1 -x hostname:{hostname} || {{ echo \"DHCP-FAIL eth0\"; exit {DhcpFailedExitCode}; }}\n";

    private static async Task<string> PageTextAsync(HeadlessChromium browser) =>
        (await browser.EvaluateAsync("document.body.innerText")).GetString() ?? string.Empty;

    private static async Task<string> TextAsync(HeadlessChromium browser, string selector) =>
        (await browser.EvaluateAsync($"document.querySelector({JsonSerializer.Serialize(selector)})?.textContent ?? ''")).GetString() ?? string.Empty;

    private static string DocLine(string doc, string prefix)
    {
        string root = GuestImage.FindRepositoryRoot(AppContext.BaseDirectory) ?? throw new InvalidOperationException("no repository root");
        return File.ReadLines(Path.Combine(root, "docs", doc)).Single(l => l.StartsWith(prefix, StringComparison.Ordinal));
    }

    [GeneratedRegex(@"^switchyard: web view (http://127\.0\.0\.1:\d+/) \(metrics: (\S+)\)$", RegexOptions.Multiline)]
    private static partial Regex WebViewBanner();

    [GeneratedRegex(@"^switchyard_port_rx_frames_total\{network=""default"",port=""vhost-user\.1"",kind=""vhost-user""\} (\d+)$", RegexOptions.Multiline)]
    private static partial Regex VhostUserRxFrames();
}
