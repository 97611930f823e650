# Produce throughput vs partitions (bench/run.sh). Variables from the command
# line: term (pngcairo or png), outfile, datafile (columns: partitions,
# ringlog MiB/s, fio MiB/s measured just before that run, the target in MiB/s
# where there is one, else NaN).
set terminal term size 800,520
set output outfile
set title "Durable produce throughput vs partitions (1 KiB records, 64 KiB batches, acks=all)"
set xlabel "partitions"
set ylabel "MiB/s"
set logscale x
set xrange [0.7:1500]
set yrange [0:*]
set grid
set key outside below
plot datafile using 1:3 with linespoints lw 2 dt 2 pt 6 title "fio: 1 MiB writes, fdatasync every 8 MiB", \
     datafile using 1:2 with linespoints lw 2 pt 7 title "ringlog-broker (ringlog-perf, 1 connection)", \
     datafile using 1:4 with points pt 2 ps 2 lc rgb "red" title "target (0.85, 0.80, 0.60 x fio)"
