# Generation: tokens per second and state memory against the context length, one layer's mixer at D=768.
# Called by `make figures` with datadir (results/data/generation) and outdir (results/figures).
set terminal pngcairo size 1200,520 font ",11"
set output outdir."/generation.png"
set datafile columnheaders
set multiplot layout 1,2 title "Generating T tokens: the mean per token (one mixer, D=768, CPU; batch 1 solid, batched dashed)"
set xlabel "context T (tokens)"
set logscale x 2
set logscale y 10
set format y "10^{%L}"
set grid
set key bottom left
f(r) = datadir."/".r.".dat"
set ylabel "tokens per second"
plot f("attention_kv_cache_b1") using "context":"tokens_per_s" with linespoints lw 2 pt 7 lc 1 title "attention, KV cache", \
     f("attention_kv_cache_batched") using "context":"tokens_per_s" with linespoints lw 2 pt 7 lc 1 dt 2 notitle, \
     f("s4d_recurrence_b1") using "context":"tokens_per_s" with linespoints lw 2 pt 9 lc 2 title "S4D, recurrence", \
     f("s4d_recurrence_batched") using "context":"tokens_per_s" with linespoints lw 2 pt 9 lc 2 dt 2 notitle, \
     f("hyena_cached_b1") using "context":"tokens_per_s" with linespoints lw 2 pt 5 lc 3 title "Hyena, exact cached conv", \
     f("hyena_cached_batched") using "context":"tokens_per_s" with linespoints lw 2 pt 5 lc 3 dt 2 notitle, \
     f("hyena_fft_b1") using "context":"tokens_per_s" with linespoints lw 2 pt 11 lc 4 title "Hyena, exact FFT tiles", \
     f("hyena_fft_batched") using "context":"tokens_per_s" with linespoints lw 2 pt 11 lc 4 dt 2 notitle, \
     f("hyena_modal_b1") using "context":"tokens_per_s" with linespoints lw 2 pt 13 lc 6 title "Hyena, distilled (order 16)", \
     f("hyena_modal_batched") using "context":"tokens_per_s" with linespoints lw 2 pt 13 lc 6 dt 2 notitle
set ylabel "state kept of the context (MiB)"
set key top left
plot f("attention_kv_cache_b1") using "context":"state_mib" with linespoints lw 2 pt 7 lc 1 title "attention", \
     f("attention_kv_cache_batched") using "context":"state_mib" with linespoints lw 2 pt 7 lc 1 dt 2 notitle, \
     f("s4d_recurrence_b1") using "context":"state_mib" with linespoints lw 2 pt 9 lc 2 title "S4D", \
     f("s4d_recurrence_batched") using "context":"state_mib" with linespoints lw 2 pt 9 lc 2 dt 2 notitle, \
     f("hyena_cached_b1") using "context":"state_mib" with linespoints lw 2 pt 5 lc 3 title "Hyena", \
     f("hyena_cached_batched") using "context":"state_mib" with linespoints lw 2 pt 5 lc 3 dt 2 notitle, \
     f("hyena_fft_b1") using "context":"state_mib" with linespoints lw 2 pt 11 lc 4 title "Hyena, FFT tiles", \
     f("hyena_fft_batched") using "context":"state_mib" with linespoints lw 2 pt 11 lc 4 dt 2 notitle, \
     f("hyena_modal_b1") using "context":"state_mib" with linespoints lw 2 pt 13 lc 6 title "Hyena, distilled", \
     f("hyena_modal_batched") using "context":"state_mib" with linespoints lw 2 pt 13 lc 6 dt 2 notitle
unset multiplot
