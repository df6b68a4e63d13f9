# The busybox shell script of tests/exec-busybox.test.ts: run as `busybox sh busybox-test.sh [SECTION...]`
# in an empty temporary directory, under qemu-i386 and under x86jit exec, which must print the same.
# Sections: functions files text archives pipes env (default: all).
set -u
SECTIONS=" ${*:-all} "
section() {
  case "$SECTIONS" in *" all "*|*" $1 "*) echo "== $1"; return 0;; esac
  return 1
}

if section functions; then
count() { n=0; for w in "$@"; do n=$((n + 1)); done; echo "$n args"; }
count a b 'c d'
i=0; while [ $i -lt 5 ]; do i=$((i + 1)); done; echo "i=$i"
case "hello.txt" in *.txt) echo text;; *) echo other;; esac
echo "subshell: $(echo inner; exit 3) status=$?"
(cd /; pwd); pwd | sed 's|.*/||' | wc -c | tr -d ' ' >/dev/null && echo "cwd kept"

fi
if section files; then
mkdir -p d/sub/deeper
printf 'one\ntwo\nthree\ntwo\n' > d/a.txt
seq 1 200 > d/nums
cp d/a.txt d/sub/b.txt
mv d/sub/b.txt d/sub/c.txt
echo extra >> d/sub/c.txt
ls d | sort
ls d/sub
cat d/sub/c.txt
find d -type f | sort
find d -name '*.txt' | sort
rm d/sub/c.txt; rmdir d/sub/deeper
ls d/sub | wc -l
test -f d/a.txt && echo "a.txt exists"
[ -d d/sub ] && echo "sub is a dir"
ln -s a.txt d/link; readlink d/link; cat d/link | head -1
touch d/empty; wc -c < d/empty

fi
if section text; then
[ -d d ] || { mkdir -p d; printf 'one\ntwo\nthree\ntwo\n' > d/a.txt; seq 1 200 > d/nums; }
grep -n two d/a.txt
grep -c . d/nums
grep -v -e one -e three d/a.txt
sed -n '2,3p' d/a.txt
sed 's/o/0/g' d/a.txt | tr '\n' ' '; echo
awk '{ s += $1 } END { print "sum", s, "avg", s / NR }' d/nums
awk -F: '{ print NF, $2 }' <<'X'
a:b:c
x:y
X
sort d/a.txt | uniq -c | sort -rn
sort -n -r d/nums | head -3
tail -n 2 d/nums
head -c 5 d/a.txt; echo
echo 'a,b,c' | cut -d, -f2
echo 'Hello World' | tr 'a-z' 'A-Z'
echo 'abc' | rev
seq 5 | paste -s -d+ | tr -d '\n'; echo
seq 3 | xargs echo args:
seq 4 | xargs -n 2 echo pair
printf '%s-%03d\n' x 7
expr 6 \* 7; expr length hello; expr 10 % 3
echo $((2 ** 10)) $((17 / 5)) $((-7 % 3))
printf 'abc\n' | od -c | head -1
printf '\001\377' | od -An -tx1
nl d/a.txt | head -2
echo "a b  c" | fold -w 3
echo 'x y' | awk '{ printf "%s|%s\n", $2, $1 }'

fi
if section archives; then
[ -d d ] || { mkdir -p d; printf 'one\ntwo\nthree\ntwo\n' > d/a.txt; seq 1 200 > d/nums; }
md5sum d/a.txt d/nums
sha256sum d/a.txt
sha1sum d/nums
gzip -c d/nums > nums.gz; gunzip -c nums.gz | md5sum
gzip -9 d/a.txt; ls d | grep gz; gunzip d/a.txt.gz; cat d/a.txt | wc -l
tar -cf t.tar d/a.txt d/nums; tar -tf t.tar
mkdir out; tar -xf t.tar -C out; diff -r d/a.txt out/d/a.txt && echo "tar round trip"
base64 d/a.txt | base64 -d | cmp - d/a.txt && echo "base64 round trip"
printf 'one\ntwo\n' > x1; printf 'one\nTWO\n' > x2
diff x1 x2; echo "diff status $?"
cmp x1 x1 && echo same
dd if=d/nums of=part bs=10 count=2 2>/dev/null; wc -c < part

fi
if section pipes; then
seq 1000 | grep 7 | wc -l
seq 3000 | awk '$1 % 999 == 0' | tail -1
yes hello | head -n 3
echo to-stderr 1>&2 2>/dev/null
{ echo grouped; echo lines; } > g.txt; cat g.txt
exec 3> fd3.txt; echo via fd 3 >&3; exec 3>&-; cat fd3.txt
cat < g.txt | tee copy.txt | wc -l; cat copy.txt
echo "here: $(cat <<EOF2
doc $((1 + 1))
EOF2
)"
false || echo "false failed"; true && echo "true worked"
sh -c 'exit 7'; echo "sh -c status $?"
sh -c 'kill -TERM $$'; echo "killed status $?"
x=$(seq 3 | while read n; do echo "n$n"; done | tr '\n' ,); echo "$x"
(sleep 0.2; echo background) & wait; echo "waited $?"
# (whether ash reports "Terminated" for the job depends on when it reaps it, under Linux too: not shown)
sleep 5 & kill $!; wait $! 2>/dev/null; echo "killed job status $?"
trap 'echo got USR1' USR1; kill -USR1 $$; echo after trap

fi
if section env; then
date -u -d @86400 '+%Y-%m-%d %H:%M:%S'
date -u -d '2024-02-29 12:34:56' +%s
env | grep -c X86JIT_TEST
basename /a/b/c.txt .txt; dirname /a/b/c.txt
fi
echo done
