# Validation loss vs training step, GPT vs Hyena vs S4D at matched parameters (the ffn-channel runs), with a
# published reference line when `published` > 0. Loaded by lm_shakespeare.gp and lm_sotu.gp, which set name,
# heading and published; `make figures` sets datadir and outdir.
set terminal pngcairo size 900,550 font ",11"
set output outdir."/".name.".png"
set datafile columnheaders
set title heading
set xlabel "training step"
set ylabel "validation loss (nats per byte)"
set grid
set key top right
f(r) = datadir."/".r.".dat"
if (published > 0) {
    plot f("gpt") using "eval_step":"val_loss" with linespoints lw 2 pt 7 title "GPT (attention + ffn)", \
         f("hyena") using "eval_step":"val_loss" with linespoints lw 2 pt 5 title "Hyena + ffn", \
         f("s4d") using "eval_step":"val_loss" with linespoints lw 2 pt 9 title "S4D + ffn", \
         published with lines dt 2 lw 2 lc rgb "black" title sprintf("published (%.2f)", published)
} else {
    plot f("gpt") using "eval_step":"val_loss" with linespoints lw 2 pt 7 title "GPT (attention + ffn)", \
         f("hyena") using "eval_step":"val_loss" with linespoints lw 2 pt 5 title "Hyena + ffn", \
         f("s4d") using "eval_step":"val_loss" with linespoints lw 2 pt 9 title "S4D + ffn"
}
