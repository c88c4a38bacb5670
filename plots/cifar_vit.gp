# A small ViT on CIFAR-10 (patch 4): test accuracy during training for the attention and Hyena mixers with ffn
# and FFF channels (FFF evaluated as the soft mixture during training; the hard-routed accuracy is in the
# report). Called by `make figures` with datadir (results/data/cifar_vit) and outdir.
set terminal pngcairo size 900,550 font ",11"
set output outdir."/cifar_vit.png"
set datafile columnheaders
set title "ViT on CIFAR-10, patch 4: test accuracy during training"
set xlabel "training step"
set ylabel "test accuracy (%)"
set grid
set key bottom right
f(r) = datadir."/".r.".dat"
plot f("attention_ffn") using "eval_step":"test_acc" with linespoints lw 2 pt 7 title "attention + ffn (ViT)", \
     f("attention_fff") using "eval_step":"test_acc" with linespoints lw 2 pt 5 title "attention + FFF", \
     f("hyena_ffn") using "eval_step":"test_acc" with linespoints lw 2 pt 9 title "Hyena + ffn", \
     f("hyena_fff") using "eval_step":"test_acc" with linespoints lw 2 pt 11 title "Hyena + FFF"
