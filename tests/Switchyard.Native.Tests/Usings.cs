namespace Switchyard.Native.Tests;
