# Speedup of the conditional channel mixers over the dense ffn of the same training width (inference), with the
# analytic FLOP ratio dashed (the FFF paper's speed claim). Called by `make figures` with datadir and outdir.
set terminal pngcairo size 1600,520 font ",11"
set output outdir."/channel_speed.png"
set datafile columnheaders
set multiplot layout 1,3 title "Inference speedup over dense ffn vs training width (solid: measured, dashed: FLOP ratio)"
set logscale xy 2
set xlabel "training width W (neurons)"
set ylabel "speedup over ffn (x)"
set grid
set key top left
f(r) = datadir."/".r.".dat"
do for [b in "b1 bmany blarge"] {
    set title (b eq "b1" ? "batch 1 (one token per call)" : (b eq "bmany" ? "batch 256 tokens" : "batch 4096 tokens"))
    plot f("fff_leaf1_".b) using "width":"speedup_over_ffn" with linespoints lw 2 pt 7 lc 1 title "FFF, leaf width 1", \
         f("fff_leaf1_".b) using "width":"flop_ratio_ffn_over_this" with lines dt 2 lc 1 notitle, \
         f("fff_leaf16_".b) using "width":"speedup_over_ffn" with linespoints lw 2 pt 7 lc 2 title "FFF, leaf width 16", \
         f("fff_leaf16_".b) using "width":"flop_ratio_ffn_over_this" with lines dt 2 lc 2 notitle, \
         f("ufb_".b) using "width":"speedup_over_ffn" with linespoints lw 2 pt 7 lc 3 title "UltraFastBERT FFF", \
         f("ufb_".b) using "width":"flop_ratio_ffn_over_this" with lines dt 2 lc 3 notitle, \
         f("moe_k1_".b) using "width":"speedup_over_ffn" with linespoints lw 2 pt 7 lc 4 title "MoE, 16 experts, top-1", \
         f("moe_k1_".b) using "width":"flop_ratio_ffn_over_this" with lines dt 2 lc 4 notitle, \
         f("moe_k2_".b) using "width":"speedup_over_ffn" with linespoints lw 2 pt 5 lc 6 title "MoE, 16 experts, top-2", \
         f("moe_k2_".b) using "width":"flop_ratio_ffn_over_this" with lines dt 2 lc 6 notitle, \
         f("fff_leaf32_".b) using "width":"speedup_over_ffn" with linespoints lw 2 pt 9 lc 7 title "FFF, leaf width 32", \
         f("moe_e32_k1_".b) using "width":"speedup_over_ffn" with linespoints lw 2 pt 9 lc 8 title "MoE, experts of width 32, top-1"
}
unset multiplot
