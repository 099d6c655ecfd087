// How much a vhost-user port trusts the front-end with the files behind guest memory (see MappedRegion).
namespace Switchyard.Native;

/// <summary>Which memory files a port maps. Spelled <c>memory=sealed|trusted</c> on a vhost-user netdev.</summary>
public enum MemoryFilePolicy
{
    /// <summary>The default: only files the front-end cannot shrink (memfds sealed with F_SEAL_SHRINK, or sealable ones,
    /// which are sealed on arrival). Other files are refused.</summary>
    Sealed,

    /// <summary>Any regular file, as it is (hugetlbfs files, tmpfs, disk). A front-end that truncates its file can then
    /// crash the daemon with SIGBUS: for trusted front-ends only (DPDK on hugepage files, QEMU memory-backend-file).</summary>
    Trusted,
}
