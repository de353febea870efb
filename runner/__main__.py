from pitfalls.cli.main import main

main()
