# The isometric CIFAR-10 network with depthwise and dense 3x3 convolutions vs 2D long convolutions (the Hyena paper's
# Hyena-ISO): test accuracy during training, with the paper's 91.2% dashed. Called by `make figures` with datadir
# (results/data/cifar_2d) and outdir.
set terminal pngcairo size 900,550 font ",11"
set output outdir."/cifar_2d.png"
set datafile columnheaders
set title "CIFAR-10 isometric network: test accuracy during training"
set xlabel "training step"
set ylabel "test accuracy (%)"
set yrange [0:100]
set grid
set key bottom right
f(r) = datadir."/".r.".dat"
plot f("conv2d") using "eval_step":"test_acc" with linespoints lw 2 pt 7 title "3x3 depthwise convolutions", \
     f("conv2d_dense") using "eval_step":"test_acc" with linespoints lw 2 pt 9 title "3x3 dense convolutions", \
     f("longconv2d") using "eval_step":"test_acc" with linespoints lw 2 pt 5 title "2D long convolutions", \
     91.2 with lines dt 2 lw 2 lc rgb "black" title "Hyena-ISO, Hyena paper (91.2%)"
