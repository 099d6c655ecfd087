namespace Switchyard.Ports.Tests;
