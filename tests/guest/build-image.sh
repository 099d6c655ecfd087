#!/usr/bin/env bash
# Builds the Switchyard test guest: a Debian kernel (vmlinuz) and a base initramfs (base.cpio.gz).
#
# Usage: tests/guest/build-image.sh [CACHE_DIR]      (default: <repo>/.cache/guest)
#
# Theory of operation:
#   * Inputs are this script, tests/guest/init, tests/guest/udhcpc.script and the host's busybox and
#     iperf3 binaries. Their hash is kept in CACHE_DIR/stamp; when it matches and both outputs exist
#     the script exits at once, so callers may run it before every test session.
#   * The kernel is the generic flavour that the metapackage linux-image-amd64 depends on (the
#     -cloud- flavour lacks e1000 and 8139cp), fetched with `apt-get download` and unpacked with
#     `dpkg -x`. Override the package with SWITCHYARD_GUEST_KERNEL_PKG=linux-image-X.
#   * Only the NIC drivers and 8021q are copied, with their dependencies, found by reading each
#     module's modinfo `depends=` string (the package has no modules.dep: depmod runs at install).
#     Compressed modules (.ko.xz/.ko.zst/.ko.gz) are decompressed, because busybox insmod may not
#     read them. /etc/modules.order lists them dependencies first for /init.
#   * The initramfs holds static busybox, iperf3 with the libraries ldd lists, /init and the udhcpc
#     script. Per-test files (/test.sh) are appended by the C# harness as a second gzip'd cpio
#     archive; the kernel unpacks concatenated archives in order.
#   * Concurrent runs (parallel test processes) are serialised with flock on CACHE_DIR/.lock;
#     outputs are renamed into place, so a reader never sees half a file.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$repo/.cache/guest}"

# Modules the guest needs; their dependencies are added automatically.
wanted_modules=(virtio_net virtio_pci e1000 8139cp 8021q)

log() { echo "build-image: $*" >&2; }
die() { log "error: $*"; exit 1; }

for tool in busybox iperf3 cpio gzip sha256sum flock apt-get apt-cache dpkg ldd; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (apt-get install -y busybox-static iperf3 cpio)"
done
busybox_bin="$(command -v busybox)"
iperf3_bin="$(command -v iperf3)"
if ldd "$busybox_bin" >/dev/null 2>&1; then
    die "$busybox_bin is dynamically linked; install busybox-static"
fi

mkdir -p "$out"
out="$(cd "$out" && pwd)"
exec 9>"$out/.lock"
flock 9

stamp="$( {
    sha256sum "$here/build-image.sh" "$here/init" "$here/udhcpc.script"
    stat -L -c '%n %s %Y' "$busybox_bin" "$iperf3_bin"
    echo "kernel-pkg=${SWITCHYARD_GUEST_KERNEL_PKG:-default}"
} | sha256sum | cut -d' ' -f1)"

if [[ -f "$out/vmlinuz" && -f "$out/base.cpio.gz" && -f "$out/stamp" && "$(cat "$out/stamp")" == "$stamp" ]]; then
    exit 0
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/switchyard-guest.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# --- kernel package --------------------------------------------------------------------------------
resolve_kernel_pkg() {
    apt-cache depends linux-image-amd64 2>/dev/null \
        | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ && $2 !~ /cloud/ { print $2; exit }'
}
kernel_pkg="${SWITCHYARD_GUEST_KERNEL_PKG:-}"
if [[ -z "$kernel_pkg" ]]; then
    kernel_pkg="$(resolve_kernel_pkg || true)"
    if [[ -z "$kernel_pkg" ]]; then
        log "apt lists do not know linux-image-amd64; running apt-get update"
        apt-get update -qq >&2 || die "apt-get update failed (are you root?)"
        kernel_pkg="$(resolve_kernel_pkg || true)"
    fi
    [[ -n "$kernel_pkg" ]] || die "cannot resolve the package linux-image-amd64 depends on"
fi
log "kernel package: $kernel_pkg"

apt_opts=(-q)
# As root, apt drops to the _apt user, which cannot write into our private temp dir.
[[ "$(id -u)" == 0 ]] && apt_opts+=(-o APT::Sandbox::User=root)
(cd "$work" && apt-get "${apt_opts[@]}" download "$kernel_pkg" >&2) || die "apt-get download $kernel_pkg failed"
deb="$(ls "$work"/*.deb | head -n 1)"
dpkg -x "$deb" "$work/pkg"
rm -f "$deb"

vmlinuz="$(ls "$work"/pkg/boot/vmlinuz-* 2>/dev/null | head -n 1 || true)"
[[ -n "$vmlinuz" ]] || die "no /boot/vmlinuz-* in $kernel_pkg"
moddir="$(ls -d "$work"/pkg/lib/modules/* "$work"/pkg/usr/lib/modules/* 2>/dev/null | head -n 1 || true)"
[[ -n "$moddir" ]] || die "no lib/modules in $kernel_pkg"
kver="$(basename "$moddir")"
log "kernel version: $kver"

# --- modules ---------------------------------------------------------------------------------------
root="$work/root"
mkdir -p "$root/lib/modules"

declare -A module_file=()   # module name (dashes as underscores) -> path in the package
while IFS= read -r -d '' f; do
    name="$(basename "$f")"
    name="${name%%.ko*}"
    module_file["${name//-/_}"]="$f"
done < <(find "$moddir/kernel" -name '*.ko*' -print0)

decompress_module() {  # $1 source, $2 destination .ko
    case "$1" in
        *.ko) cp "$1" "$2" ;;
        *.ko.xz) xz -dc "$1" >"$2" ;;
        *.ko.zst) zstd -q -dc "$1" >"$2" ;;
        *.ko.gz) gzip -dc "$1" >"$2" ;;
        *) die "unknown module compression: $1" ;;
    esac
}

declare -A module_seen=()
module_order=()
add_module() {  # depth-first: dependencies before the module itself
    local name="${1//-/_}"
    [[ -n "${module_seen[$name]:-}" ]] && return 0
    module_seen[$name]=1
    local src="${module_file[$name]:-}"
    if [[ -z "$src" ]]; then
        log "module $name not in the package (built in?); skipped"
        return 0
    fi
    local dst="$root/lib/modules/$name.ko"
    decompress_module "$src" "$dst"
    local deps
    deps="$(grep -a -o -m 1 'depends=[A-Za-z0-9_,-]*' "$dst" | head -n 1 | cut -d= -f2 || true)"
    local dep
    for dep in ${deps//,/ }; do add_module "$dep"; done
    module_order+=("$name")
}
for m in "${wanted_modules[@]}"; do add_module "$m"; done
printf '%s\n' "${module_order[@]}" >"$work/modules.order"
log "modules: ${module_order[*]}"

# --- user space ------------------------------------------------------------------------------------
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc/udhcpc,proc,sys,dev,tmp,run,root,mnt,var,usr/share/udhcpc}
ln -s ../run "$root/var/run"
ln -s ../tmp "$root/var/tmp"
chmod 1777 "$root/tmp"
cp "$busybox_bin" "$root/bin/busybox"
# Same result as `busybox --install -s`, without needing to chroot into the tree.
while IFS= read -r applet; do
    [[ -e "$root/$applet" || -L "$root/$applet" ]] || ln -s /bin/busybox "$root/$applet"
done < <("$busybox_bin" --list-full)

cp "$iperf3_bin" "$root/usr/bin/iperf3"
# ldd lines: "libx.so => /path (0x...)", "/lib64/ld-linux-x86-64.so.2 (0x...)", "linux-vdso.so.1 (0x...)".
while IFS= read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done < <(ldd "$iperf3_bin" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }' | sort -u)

cp "$here/init" "$root/init"
chmod 755 "$root/init"
# Debian's busybox looks for /etc/udhcpc/default.script, upstream for /usr/share/udhcpc/default.script.
cp "$here/udhcpc.script" "$root/etc/udhcpc/default.script"
chmod 755 "$root/etc/udhcpc/default.script"
ln -s /etc/udhcpc/default.script "$root/usr/share/udhcpc/default.script"
cp "$work/modules.order" "$root/etc/modules.order"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"
: >"$root/etc/resolv.conf"
echo "$kver" >"$root/etc/guest-kernel"
if [[ "$(id -u)" == 0 ]]; then
    # The kernel opens /dev/console before /init runs; without the node early messages are lost
    # (/init reopens the console from devtmpfs either way).
    mknod -m 600 "$root/dev/console" c 5 1
    mknod -m 666 "$root/dev/null" c 1 3
fi

(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet) \
    | gzip -9 -n >"$work/base.cpio.gz"

# --- publish ---------------------------------------------------------------------------------------
cp "$vmlinuz" "$out/.vmlinuz.new"
cp "$work/base.cpio.gz" "$out/.base.cpio.gz.new"
mv -f "$out/.vmlinuz.new" "$out/vmlinuz"
mv -f "$out/.base.cpio.gz.new" "$out/base.cpio.gz"
echo "$kver" >"$out/kernel-version"
echo "$stamp" >"$out/stamp"
log "done: $out/vmlinuz ($kver), $out/base.cpio.gz ($(du -h "$out/base.cpio.gz" | cut -f1))"
