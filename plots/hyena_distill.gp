# Hyena's filters distilled into modal recurrences: the filters' fit and the language model's loss against the
# order. Called by `make figures` with datadir (results/data/hyena_distill) and outdir (results/figures).
set terminal pngcairo size 1100,450 font ",11"
set output outdir."/hyena_distill.png"
set datafile columnheaders
set multiplot layout 1,2 title "Distilling Hyena's filters (byte-level LM, tiny Shakespeare; mean over seeds)"
set xlabel "order d (real degrees per filter)"
set logscale x 2
set grid
f = datadir."/distill.dat"
set logscale y 10
set format y "10^{%L}"
set ylabel "relative L2 error of the filter"
plot f using "order":"filter_rel_l2_mean" with linespoints lw 2 pt 7 title "mean over channels", \
     f using "order":"filter_rel_l2_max" with linespoints lw 2 pt 5 dt 2 title "worst channel"
unset logscale y
set format y "%g"
set ylabel "validation loss change (nats per byte)"
plot f using "order":"val_loss_change" with linespoints lw 2 pt 7 title "distilled minus exact", 0 lc rgb "gray" notitle
unset multiplot
