#!/bin/sh
# Rebuilds system-cs2.hive from system-cs2.reg with hivexregedit (libhivex-bin),
# starting from libguestfs/hivex's minimal hive (the corpus copy).
set -eu
cd "$(dirname "$0")"
cp ../../../../shared/corpus/src/hivex-minimal.hive system-cs2.hive
chmod u+w system-cs2.hive
python3 gen-reg.py
hivexregedit --merge system-cs2.hive --prefix '' system-cs2.reg
rm -f system-cs2.reg
gzip -9nf system-cs2.hive
