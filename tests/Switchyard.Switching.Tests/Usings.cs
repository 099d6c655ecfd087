namespace Switchyard.Switching.Tests;
