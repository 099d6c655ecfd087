using Switchyard.TestKit.Qemu;
using Xunit;

namespace Switchyard.TestKit;

/// <summary>
/// A fact that needs QEMU and the test guest image. xunit 2 has no runtime skip, so the image is
/// located (and built on first use, see <see cref="GuestImage.TryGet"/>) when the attribute is
/// constructed during discovery, and the test is skipped with the reason when it is unavailable.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class RequiresGuestFactAttribute : FactAttribute
{
    public RequiresGuestFactAttribute()
    {
        if (!GuestImage.TryGet(out _, out string whyNot))
            Skip = whyNot;
    }
}

/// <summary>A fact that needs QEMU with the test guest image and root (a namespace or tap next to the guests).</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class RequiresGuestAndRootFactAttribute : FactAttribute
{
    public RequiresGuestAndRootFactAttribute()
    {
        if (!Privileges.IsRoot)
            Skip = "needs root (effective uid 0)";
        else if (!GuestImage.TryGet(out _, out string whyNot))
            Skip = whyNot;
    }
}
