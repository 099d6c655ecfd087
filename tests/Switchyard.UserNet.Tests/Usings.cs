global using Switchyard.UserNet.Link;
global using Switchyard.UserNet.Tcp;
global using Switchyard.UserNet.Udp;

namespace Switchyard.UserNet.Tests;
