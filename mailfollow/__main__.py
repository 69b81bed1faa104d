from mailfollow.cli import main

main()
