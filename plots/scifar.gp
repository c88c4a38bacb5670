# Sequential CIFAR-10 (1024 pixels as tokens): test accuracy during training for S4D and Hyena blocks, with the
# Hyena paper's 91% dashed. Called by `make figures` with datadir (results/data/scifar) and outdir.
set terminal pngcairo size 900,550 font ",11"
set output outdir."/scifar.png"
set datafile columnheaders
set title "Sequential CIFAR-10: test accuracy during training"
set xlabel "training step"
set ylabel "test accuracy (%)"
set yrange [0:100]
set grid
set key bottom right
f(r) = datadir."/".r.".dat"
plot f("s4d") using "eval_step":"test_acc" with linespoints lw 2 pt 7 title "S4D", \
     f("hyena") using "eval_step":"test_acc" with linespoints lw 2 pt 5 title "Hyena", \
     91 with lines dt 2 lw 2 lc rgb "black" title "Hyena paper (91%)"
