# PyTorch time / subq time per operator, forward and forward+backward, the ratio of the two sides' fastest
# repetitions in alternating rounds (above 1 = subq faster). Called by `make figures` with datadir
# (results/data/peers) and outdir (results/figures). The sizes of each point are in results/peers.h5.
set terminal pngcairo size 1100,550 font ",11" noenhanced
set output outdir."/peers.png"
set datafile columnheaders
set title "PyTorch time / subq time (CPU, same shapes, same thread count, alternating rounds)"
set ylabel "PyTorch / subq (log scale; > 1 = subq faster)"
set logscale y 10
set grid ytics
set style fill solid 0.8 border -1
set boxwidth 0.35
runs = "attention_tiled_short attention_tiled attention_tiled_long attention_naive_short attention_naive ffn linear_qkv fftconv_short fftconv fftconv_long hyena_order2 s4d"
n = words(runs)
set xrange [-0.6:n - 0.4]
set xtics rotate by -30 font ",9"
set for [i=1:n] xtics add (word(runs, i) i - 1)
set key top left
set arrow from -0.6,1 to n - 0.4,1 nohead dt 2 lw 2
f(r) = datadir."/".r.".dat"
plot for [i=1:n] f(word(runs, i)) using (i - 1 - 0.18):"torch_over_subq_forward" with boxes lc rgb "#1f77b4" title (i == 1 ? "forward" : ""), \
     for [i=1:n] f(word(runs, i)) using (i - 1 + 0.18):"torch_over_subq_forward_backward" with boxes lc rgb "#ff7f0e" title (i == 1 ? "forward+backward" : "")
