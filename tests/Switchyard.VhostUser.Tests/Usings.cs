namespace Switchyard.VhostUser.Tests;
