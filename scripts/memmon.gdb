# memmon's gdb setup (make debug runs gdb -x scripts/memmon.gdb from the top
# of the repository): loads scripts/memmon_gdb.py, which waits for memmon's
# banner, loads build/memmon.so's symbols at the image base it printed and
# attaches to QEMU's gdb stub. Then, for example:
#   (gdb) break cmd_lookup
#   (gdb) memmon lookup 0 0x1000      # typed at memmon's console
#   (gdb) continue                    # stops in cmd_lookup
set pagination off
set confirm off
source scripts/memmon_gdb.py
memmon-attach
