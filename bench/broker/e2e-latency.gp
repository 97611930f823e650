# End-to-end latency percentiles (bench/run.sh). Variables from the command
# line: term, outfile, datafile (columns: nines = -log10(1 - p/100),
# percentile p, ms), target_ms (3 x fio's fdatasync p99), ymin (the y axis
# starts there, so the target line shows), title.
set terminal term size 800,480
set output outfile
set title title
set xlabel "percentile"
set ylabel "latency (ms)"
set xtics ("0%%" 0, "90%%" 1, "99%%" 2, "99.9%%" 3, "99.99%%" 4, "99.999%%" 5)
set xrange [0:5.2]
set logscale y
set yrange [ymin:*]
set grid
set key top left
plot datafile using 1:3 with linespoints lw 2 pt 7 title "ringlog-perf e2e (produce to consume)", \
     target_ms with lines lw 1 dt 2 lc rgb "red" title "3 x fio fdatasync p99 (the p99 target)"
