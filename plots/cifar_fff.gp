# Flattened CIFAR-10: generalisation (test) and memorisation (training images) accuracy of FF, FFF (hard
# routing, leaf 32) and MoE (experts of width 16, k = 2) against the training width, laid out like the FFF paper's table. Called by
# `make figures` with datadir (results/data/cifar_fff) and outdir.
set terminal pngcairo size 1100,500 font ",11"
set output outdir."/cifar_fff.png"
set datafile columnheaders
set multiplot layout 1,2 title "Flattened CIFAR-10: FF vs FFF (leaf 32, hard routing) vs MoE (experts of width 16, k=2), mean over seeds"
set logscale x 2
set xlabel "training width w (neurons)"
set ylabel "accuracy (%)"
set grid
set key bottom right
f = datadir."/table.dat"
do for [split in "test train"] {
    set title (split eq "test" ? "generalisation (test set)" : "memorisation (training images)")
    plot f using "width":"ff_".split with linespoints lw 2 pt 7 title "FF", \
         f using "width":"fff_l32_".split with linespoints lw 2 pt 5 title "FFF, leaf 32", \
         f using "width":"moe_l16_".split with linespoints lw 2 pt 9 title "MoE, experts of width 16, k=2"
}
unset multiplot
