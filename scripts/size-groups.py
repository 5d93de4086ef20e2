#!/usr/bin/env python3
"""Where the bytes of an unstripped binary go, from `nm -C --size-sort -S` on stdin.

Groups code and data symbols by owner: our modules (`wanfailover::daemon`, ...), each crate,
std's backtrace machinery (what stable Rust cannot drop: the default panic hook's
symbolizer and libunwind), the rest of std/core/alloc, and the C library. Prints one
Markdown table, biggest first, then the biggest symbols of our own.

    nm -C --size-sort -S BINARY | scripts/size-groups.py [--top N]
"""
import re
import sys
from collections import Counter

BACKTRACE = ("std::backtrace_rs", "std::sys::backtrace", "gimli", "addr2line",
             "miniz_oxide", "rustc_demangle", "libunwind", "object")
RUST_STD = ("std", "core", "alloc", "compiler_builtins", "hashbrown", "__rustc")
# Trait impls on primitive types and generic parameters (`<u64 as Display>::fmt`,
# `<T as Into<U>>::into`) are std's code instantiated for us.
PRIMITIVE = re.compile(r"(?:[iu](?:8|16|32|64|128|size)|f32|f64|bool|char|str|[A-Z])$")


MODULES = ("check", "config", "control", "daemon", "engine", "hooks", "metrics", "snmp",
           "sort", "sys", "watch")


def owner(name):
    # `<A as B>::f`, `&T as ...`: the first path decides
    path = re.sub(r"^(?:[<&*]|mut |const |dyn )+", "", name)
    if "libunwind" in name:
        return "std: backtrace machinery"
    m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)(?:::([A-Za-z_][A-Za-z0-9_]*))?", path)
    if name.startswith("OUTLINED_FUNCTION"):
        return "outlined sequences (machine outliner, all code)"
    if not m or "::" not in path:
        return "C library and start-up" if m else "other"
    crate, module = m.group(1), m.group(2)
    if crate == "wanfailover":
        # the binary's own functions sit at the crate root, beside the library's modules
        return f"ours: {module}" if module and module[0].islower() and module in MODULES else "ours: main.rs"
    if PRIMITIVE.match(crate):
        if "wanfailover::" in name:
            return "std, core, alloc generics over our types"
        return "std, core, alloc (rest)"
    if any(path.startswith(p) for p in BACKTRACE):
        return "std: backtrace machinery"
    if crate in RUST_STD:
        if "wanfailover::" in name:
            return "std, core, alloc generics over our types"
        return "std, core, alloc (rest)"
    return f"crate: {crate}"


def main():
    top = 25
    if len(sys.argv) == 3 and sys.argv[1] == "--top":
        top = int(sys.argv[2])
    sizes, counts, ours = Counter(), Counter(), []
    for line in sys.stdin:
        parts = line.rstrip("\n").split(" ", 3)
        if len(parts) < 4:
            continue
        size, kind, name = int(parts[1], 16), parts[2], parts[3]
        group = owner(name) if kind in "tTwWrRdDbB" else "other"
        if kind in "bB":  # not in the file
            continue
        sizes[group] += size
        counts[group] += 1
        if group.startswith("ours:"):
            ours.append((size, name))
    total = sum(sizes.values())
    print("| owner | symbols | bytes | share |")
    print("|---|---|---|---|")
    for group, size in sizes.most_common():
        print(f"| {group} | {counts[group]} | {size} | {100 * size / total:.1f} % |")
    print(f"| total (symbols with a size) | {sum(counts.values())} | {total} | |")
    print()
    print(f"Our {top} biggest symbols:")
    for size, name in sorted(ours, reverse=True)[:top]:
        print(f"{size:8} {name[:110]}")


if __name__ == "__main__":
    main()
