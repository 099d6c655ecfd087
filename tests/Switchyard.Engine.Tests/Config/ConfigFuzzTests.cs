// Property-style tests: parsers never fail on input with anything but ConfigException.
//
// Inputs are generated from a seeded System.Random, so a failure reproduces exactly; the failing
// input is in the assertion message. Three generators: random characters biased towards the
// syntax (',', '=', '.', ':', brackets), random sequences of real keys and values, and mutations of
// valid specs (which reach the deeper checks that pure garbage never gets past).
using System.Text;
using Switchyard.Core.Config;
using Switchyard.Engine.Config;
using Switchyard.Ports;

namespace Switchyard.Engine.Tests.Config;

public sealed class ConfigFuzzTests
{
    private static readonly string[] Words =
    [
        "stream", "dgram", "socket", "vhost-user", "tap", "type", "id", "addr", "local", "remote",
        "addr.type", "addr.path", "addr.abstract", "addr.tight", "addr.host", "addr.port", "server",
        "reconnect", "reconnect-ms", "local.type", "local.host", "local.port", "local.path", "remote.type",
        "remote.host", "remote.port", "remote.path", "listen", "connect", "udp", "localaddr", "mcast", "fd",
        "path", "queues", "ifname", "vnet_hdr", "tap0", "unix", "inet", "fd", "on", "off", "yes", "maybe", "0", "1", "65535", "65536",
        "-1", "99999999999", "127.0.0.1", "::1", "[::1]", "239.0.0.1", "ff02::1", "localhost", "/tmp/x",
        "", "\0", "é", "\u00e9\u0301", "\ud800", new string('a', 200),
    ];

    private static readonly string[] ValidSpecs =
    [
        "stream,addr.type=unix,addr.path=/tmp/g1.sock,server=on",
        "stream,addr.type=inet,addr.host=127.0.0.1,addr.port=5000,reconnect-ms=100",
        "dgram,local.type=inet,local.host=127.0.0.1,local.port=1,remote.type=inet,remote.host=127.0.0.1,remote.port=2",
        "dgram,local.type=unix,local.path=/a,remote.type=unix,remote.path=/b",
        "socket,listen=:5000",
        "socket,connect=[::1]:5000",
        "socket,udp=127.0.0.1:2,localaddr=:1",
        "vhost-user,path=/tmp/vu.sock,server=off,queues=4",
        "tap,ifname=tap0,vnet_hdr=off",
    ];

    private static readonly string[] ValidGatewaySpecs =
    [
        "user",
        "user,net=10.0.3.0/24,hostfwd=tcp:127.0.0.1:2222-:22",
        "net=192.168.7.0/255.255.255.0,host=192.168.7.1,dns=192.168.7.53,dhcpstart=192.168.7.100,mtu=9000",
        "ipv6-prefix=fd42::,ipv6-prefixlen=64,ipv6-host=fd42::1,dnssearch=a.example,dnssearch=b.example",
        "ipv6=off,mtu=576,restrict=on,host-loopback=off,lease-time=1h,max-flows=100,max-flows-per-guest=10",
        "dns-upstream=9.9.9.9:53,dns-upstream=[2620:fe::fe],hostfwd=udp:[::1]:5353-[fd00::15]:53,hostname=vm,domainname=lab.example",
    ];

    [Fact]
    public void Parse_RandomCharacters_ThrowsOnlyConfigException()
    {
        var random = new Random(20240601);
        const string Alphabet = ",,,===..::[]-_/@ 0123456789abcdefghijklmnopqrstuvwxyzé\0\t\"'";
        for (int n = 0; n < 3000; n++)
        {
            var sb = new StringBuilder();
            int length = random.Next(0, 80);
            for (int i = 0; i < length; i++)
            {
                sb.Append(Alphabet[random.Next(Alphabet.Length)]);
            }

            AssertParsesOrReports(sb.ToString());
        }
    }

    [Fact]
    public void Parse_RandomKeyValueSequences_ThrowsOnlyConfigException()
    {
        var random = new Random(4094);
        for (int n = 0; n < 3000; n++)
        {
            var sb = new StringBuilder(Pick(random, Words));
            int options = random.Next(0, 8);
            for (int i = 0; i < options; i++)
            {
                sb.Append(random.Next(10) == 0 ? ",," : ",").Append(Pick(random, Words));
                if (random.Next(6) != 0)
                {
                    sb.Append('=').Append(Pick(random, Words));
                }
            }

            AssertParsesOrReports(sb.ToString());
        }
    }

    [Fact]
    public void Parse_MutatedValidSpecs_ThrowsOnlyConfigExceptionAndRoundTrips()
    {
        var random = new Random(65535);
        int parsed = 0;
        for (int n = 0; n < 4000; n++)
        {
            char[] text = Pick(random, ValidSpecs).ToCharArray();
            int edits = random.Next(1, 4);
            var sb = new StringBuilder(new string(text));
            for (int e = 0; e < edits && sb.Length > 0; e++)
            {
                int at = random.Next(sb.Length);
                switch (random.Next(4))
                {
                    case 0:
                        sb.Remove(at, 1);
                        break;
                    case 1:
                        sb.Insert(at, ",=.:[]0x-"[random.Next(9)]);
                        break;
                    case 2:
                        sb[at] = (char)random.Next(32, 127);
                        break;
                    default:
                        sb.Insert(at, Pick(random, Words));
                        break;
                }
            }

            if (AssertParsesOrReports(sb.ToString()) is { } spec)
            {
                parsed++;
                Assert.Equal(spec, NetdevSpec.Parse(spec.ToString()));
            }
        }

        Assert.True(parsed > 100, $"only {parsed} mutations parsed; the generator no longer reaches valid specs");
    }

    [Fact]
    public void GatewaySpec_MutatedValidSpecs_NeverThrowAndRoundTrip()
    {
        var random = new Random(2026);
        int parsed = 0;
        for (int n = 0; n < 4000; n++)
        {
            var sb = new StringBuilder(Pick(random, ValidGatewaySpecs));
            for (int e = random.Next(1, 4); e > 0 && sb.Length > 0; e--)
            {
                int at = random.Next(sb.Length);
                switch (random.Next(4))
                {
                    case 0:
                        sb.Remove(at, 1);
                        break;
                    case 1:
                        sb.Insert(at, ",=.:[]0/-"[random.Next(9)]);
                        break;
                    case 2:
                        sb[at] = (char)random.Next(32, 127);
                        break;
                    default:
                        sb.Insert(at, Pick(random, ["mtu=", "net=", "hostfwd=", "ipv6=off", ",", "::", "/64", "255", "-", "dnssearch="]));
                        break;
                }
            }

            string text = sb.ToString();
            Exception? ex = Record.Exception(() =>
            {
                if (GatewaySpec.TryParse(text, out Switchyard.UserNet.GatewayOptions? options, out IReadOnlyList<string> errors))
                {
                    parsed++;
                    Assert.Empty(errors);
                    Assert.Equal(options, GatewaySpec.Parse(GatewaySpec.Format(options)));
                }
                else
                {
                    Assert.NotEmpty(errors);
                }
            });
            Assert.True(ex is null, $"input {Escape(text)} threw {ex}");
        }

        Assert.True(parsed > 50, $"only {parsed} mutations parsed; the generator no longer reaches valid gateway specs");
    }

    [Fact]
    public void FromFlags_RandomTrunkText_ThrowsOnlyConfigException()
    {
        var random = new Random(802);
        const string Alphabet = "0123456789,- x";
        for (int n = 0; n < 3000; n++)
        {
            var sb = new StringBuilder();
            int length = random.Next(0, 20);
            for (int i = 0; i < length; i++)
            {
                sb.Append(Alphabet[random.Next(Alphabet.Length)]);
            }

            string trunk = sb.ToString();
            int? native = random.Next(3) == 0 ? random.Next(-2, 4100) : null;
            Exception? ex = Record.Exception(() => VlanConfig.FromFlags(null, trunk, native));
            Assert.True(ex is null or ConfigException { Errors.Count: > 0 }, $"trunk '{trunk}' native {native}: {ex}");
        }
    }

    [Fact]
    public void Load_RandomYaml_ThrowsOnlyConfigException()
    {
        var random = new Random(1997);
        string[] lines =
        [
            "networks:", "  - name: lab", "    hub: true", "    mac-ageing: 5m", "    max-macs: 10", "    ports:",
            "      - name: g1", "        netdev: socket,listen=:5000", "        vlan: 10", "        trunk: [1, 2-3]",
            "        native-vlan: 1", "    gateway: true", "    gateway: \"user,mtu=1\"", "    gateway:", "      net: 10.0.9.0/24",
            "      hostfwd: [tcp::2222-:22, x]", "      bogus: 1", "      mtu: [1]", "        netdev: tap,ifname=tap0", "  - ", "- x", "networks: []", "  ports: {}", "    x: [", "  &a name: b",
            "    name: *a", "---", "...", "? [a]", ": b", "\t", "name: \"unterminated", "        trunk: \"10,,\"",
        ];
        for (int n = 0; n < 2000; n++)
        {
            var sb = new StringBuilder();
            int count = random.Next(0, 12);
            for (int i = 0; i < count; i++)
            {
                sb.Append(Pick(random, lines)).Append('\n');
            }

            string yaml = sb.ToString();
            Exception? ex = Record.Exception(() => TopologyLoader.Load(yaml));
            Assert.True(ex is null or ConfigException { Errors.Count: > 0 }, $"yaml:\n{yaml}\nthrew {ex}");
        }
    }

    private static NetdevSpec? AssertParsesOrReports(string text)
    {
        NetdevSpec? spec = null;
        Exception? ex = Record.Exception(() => spec = NetdevSpec.Parse(text));
        Assert.True(ex is null or ConfigException { Errors.Count: > 0 }, $"input {Escape(text)} threw {ex}");

        bool ok = NetdevSpec.TryParse(text, out NetdevSpec? tried, out IReadOnlyList<string> errors);
        Assert.Equal(ex is null, ok);
        Assert.Equal(spec, tried);
        Assert.Equal(ok, errors.Count == 0);
        return spec;
    }

    private static string Pick(Random random, string[] items) => items[random.Next(items.Length)];

    private static string Escape(string text) =>
        "\"" + string.Concat(text.Select(c => char.IsControl(c) || c > 126 ? $"\\u{(int)c:x4}" : c.ToString())) + "\"";
}
