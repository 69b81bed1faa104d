from mailfollow.cli import main

# The guard matters: a large sync's second connection (mailfollow.lanes) may
# be started with "spawn", which imports the parent's main module again in
# the new process.
if __name__ == "__main__":
    main()
