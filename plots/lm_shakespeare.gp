# tiny Shakespeare (bytes): validation loss of GPT vs Hyena vs S4D, with nanoGPT's published CPU result (1.88).
name = "lm_shakespeare"
heading = "tiny Shakespeare, byte level: validation loss (nanoGPT CPU recipe)"
published = 1.88
load "plots/lm_loss.gp"
