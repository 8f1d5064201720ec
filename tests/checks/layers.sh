#!/bin/sh
# The layers and what each may use (docs/architecture.md, "Layers").
# Against the one table below (and docs/architecture.md):
#  1. every #include "budgetd/<layer>/..." in a layer's sources and headers
#     names the layer itself or one it may use;
#  2. every bd_ symbol a layer's library leaves undefined is defined in the
#     layer itself or in one it may use (the link-level view: a call slips
#     past the include check through a local prototype, not past this one);
#  3. docs/architecture.md names every source file.
# A new dependency between layers is a decision: make it here, in the
# table, and in docs/architecture.md, or the suite fails.
srcdir=${srcdir:-.}
builddir=${builddir:-.}

# layer: the layers it may use (besides itself)
RULES='base:
wire:base
state:base wire
policy:base wire state
learn:base wire state policy
serve:base wire state policy
daemon:base wire state policy learn serve
tools:base wire state policy serve
lab:base wire state policy learn'

fails=0
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

allowed() { # layer -> its allowed layers, itself included
	printf '%s\n' "$RULES" | sed -n "s/^$1://p" | sed "s/^/$1 /"
}

dirs_of() { # layer -> its source and header folders
	case $1 in
	lab) echo "$srcdir/lab $srcdir/include/budgetd/lab" ;;
	*) echo "$srcdir/src/$1 $srcdir/include/budgetd/$1" ;;
	esac
}

layers=$(printf '%s\n' "$RULES" | sed 's/:.*//')

# every folder under src/ and include/budgetd is a layer of the table
for d in "$srcdir"/src/*/ "$srcdir"/include/budgetd/*/; do
	l=$(basename "$d")
	printf '%s\n' $layers | grep -qx "$l" || bad "$d is not a layer of tests/checks/layers.sh"
done

# 1. includes
for l in $layers; do
	ok=$(allowed "$l")
	for d in $(dirs_of "$l"); do
		[ -d "$d" ] || continue
		for f in "$d"/*.c "$d"/*.h; do
			[ -f "$f" ] || continue
			for used in $(sed -n 's|^[[:space:]]*#[[:space:]]*include[[:space:]]*"budgetd/\([a-z]*\)/.*|\1|p' "$f" | sort -u); do
				case " $ok " in
				*" $used "*) ;;
				*) bad "${f#"$srcdir"/}: includes budgetd/$used/ but layer $l may use only: $ok" ;;
				esac
			done
			if grep -q '^[[:space:]]*#[[:space:]]*include[[:space:]]*"budgetd/[a-z_]*\.h"' "$f"; then
				bad "${f#"$srcdir"/}: includes a header outside the layer folders"
			fi
		done
	done
done

# 2. symbols, from the built libraries
nlibs=0
for l in $layers; do
	[ "$l" = tools ] && continue
	lib=$builddir/libbd_$l.a
	[ -f "$lib" ] || { bad "$lib is not built"; continue; }
	nlibs=$((nlibs + 1))
	nm --defined-only -g "$lib" 2>/dev/null |
		awk -v l="$l" 'NF == 3 && $3 ~ /^bd_/ { print $3, l }'
done >"${TMPDIR:-/tmp}/layers.$$.defs"
for l in $layers; do
	[ "$l" = tools ] && continue
	lib=$builddir/libbd_$l.a
	[ -f "$lib" ] || continue
	ok=$(allowed "$l")
	for sym in $(nm -u "$lib" 2>/dev/null | awk '$2 ~ /^bd_/ { print $2 }' | sort -u); do
		owner=$(awk -v s="$sym" '$1 == s { print $2; exit }' "${TMPDIR:-/tmp}/layers.$$.defs")
		[ -n "$owner" ] || continue # a wrapped or external symbol
		case " $ok " in
		*" $owner "*) ;;
		*) bad "libbd_$l.a uses $sym from layer $owner, but layer $l may use only: $ok" ;;
		esac
	done
done
rm -f "${TMPDIR:-/tmp}/layers.$$.defs"

# 3. docs/architecture.md names every source file (its "Files" map)
for f in "$srcdir"/src/*/*.c "$srcdir"/lab/*.c; do
	rel=${f#"$srcdir"/}
	grep -qF "$rel" "$srcdir/docs/architecture.md" ||
		bad "$rel is not named in docs/architecture.md"
done

[ "$nlibs" -ge 8 ] || bad "found $nlibs of 8 layer libraries"
[ "$fails" -eq 0 ] || exit 1
echo "PASS: every include and every library symbol keeps to the layer rules; docs/architecture.md names every source file"
