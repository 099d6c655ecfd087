namespace Switchyard.Protocols.Tests;
