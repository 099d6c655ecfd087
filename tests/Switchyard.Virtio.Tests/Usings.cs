namespace Switchyard.Virtio.Tests;
