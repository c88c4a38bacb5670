# Runtime versus sequence length, forward+backward, log-log (the Hyena paper's runtime figure).
# Called by `make figures` with datadir (results/data/ops_scaling) and outdir (results/figures).
set terminal pngcairo size 1000,650 font ",11"
set output outdir."/ops_scaling.png"
set datafile columnheaders
set title "Forward+backward time vs sequence length (batch 1, one layer, CPU)"
set xlabel "sequence length L (tokens)"
set ylabel "time per forward+backward (ms)"
set logscale x 2
set logscale y 10
set format y "10^{%L}"
set grid
set key top left
f(r) = datadir."/".r.".dat"
plot f("attention_naive") using "seq_len":"forward_backward_ms_median" with linespoints lw 2 pt 7 title "attention (naive)", \
     f("attention_tiled") using "seq_len":"forward_backward_ms_median" with linespoints lw 2 pt 7 title "attention (tiled)", \
     f("hyena_order2") using "seq_len":"forward_backward_ms_median" with linespoints lw 2 pt 5 title "Hyena, order 2", \
     f("hyena_order3") using "seq_len":"forward_backward_ms_median" with linespoints lw 2 pt 5 title "Hyena, order 3", \
     f("s4d") using "seq_len":"forward_backward_ms_median" with linespoints lw 2 pt 9 title "S4D", \
     f("fftconv") using "seq_len":"forward_backward_ms_median" with linespoints lw 2 pt 13 dt 2 title "FFT long convolution alone"
