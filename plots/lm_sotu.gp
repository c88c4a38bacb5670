# State of the Union (bytes, context 256): validation loss of GPT vs Hyena vs S4D (no published number).
name = "lm_sotu"
heading = "State of the Union, byte level, context 256: validation loss"
published = 0
load "plots/lm_loss.gp"
