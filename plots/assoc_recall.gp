# Associative recall: answer accuracy vs sequence length at vocabulary 30 (the Hyena paper's Table 4.2 setting).
# Called by `make figures` with datadir (results/data/assoc_recall) and outdir.
set terminal pngcairo size 900,550 font ",11"
set output outdir."/assoc_recall.png"
set datafile columnheaders
set title "Associative recall, vocabulary 30, 2 layers, width 64"
set xlabel "sequence length (tokens)"
set ylabel "accuracy of the answer token (%)"
set logscale x 2
set yrange [0:105]
set grid
set key bottom left
f = datadir."/length_sweep.dat"
plot f using "seq_len":"hyena" with linespoints lw 2 pt 7 title "Hyena", \
     f using "seq_len":"attention" with linespoints lw 2 pt 5 title "attention", \
     f using "seq_len":"s4d" with linespoints lw 2 pt 9 title "S4D"
