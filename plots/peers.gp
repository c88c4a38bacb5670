# subq time / PyTorch time per operator, forward and forward+backward (below 1: subq is faster).
# Called by `make figures` with datadir (results/data/peers) and outdir (results/figures).
set terminal pngcairo size 900,550 font ",11"
set output outdir."/peers.png"
set datafile columnheaders
set title "subq vs PyTorch (CPU, same shapes, same thread count)"
set ylabel "time ratio subq / PyTorch (log scale; < 1 = subq faster)"
set logscale y 10
set grid ytics
set style fill solid 0.8 border -1
set boxwidth 0.35
set xrange [-0.6:4.6]
set xtics ("fftconv" 0, "attention (tiled)" 1, "Hyena order 2" 2, "S4D" 3, "ffn" 4)
set key top left
set arrow from -0.6,1 to 4.6,1 nohead dt 2 lw 2
f(r) = datadir."/".r.".dat"
runs = "fftconv attention_tiled hyena_order2 s4d ffn"
plot for [i=1:5] f(word(runs, i)) using (i - 1 - 0.18):"ratio_forward" with boxes lc rgb "#1f77b4" title (i == 1 ? "forward" : ""), \
     for [i=1:5] f(word(runs, i)) using (i - 1 + 0.18):"ratio_forward_backward" with boxes lc rgb "#ff7f0e" title (i == 1 ? "forward+backward" : "")
