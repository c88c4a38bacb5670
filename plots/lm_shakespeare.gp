# Validation loss vs training step on tiny Shakespeare (bytes), GPT vs Hyena vs S4D at matched parameters,
# with nanoGPT's published CPU result (1.88). Called by `make figures` with datadir and outdir.
set terminal pngcairo size 900,550 font ",11"
set output outdir."/lm_shakespeare.png"
set datafile columnheaders
set title "tiny Shakespeare, byte level: validation loss (nanoGPT CPU recipe)"
set xlabel "training step"
set ylabel "validation loss (nats per byte)"
set grid
set key top right
f(r) = datadir."/".r.".dat"
plot f("gpt") using "eval_step":"val_loss" with linespoints lw 2 pt 7 title "GPT (attention + ffn)", \
     f("hyena") using "eval_step":"val_loss" with linespoints lw 2 pt 5 title "Hyena + ffn", \
     f("s4d") using "eval_step":"val_loss" with linespoints lw 2 pt 9 title "S4D + ffn", \
     1.88 with lines dt 2 lw 2 lc rgb "black" title "nanoGPT published (1.88)"
