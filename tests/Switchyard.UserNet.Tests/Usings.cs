namespace Switchyard.UserNet.Tests;
