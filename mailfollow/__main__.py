from mailfollow.cli import main

# The guard matters: the parsing worker is started with "spawn", which imports
# the parent's main module again in the worker.
if __name__ == "__main__":
    main()
