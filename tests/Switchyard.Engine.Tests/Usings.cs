namespace Switchyard.Engine.Tests;
