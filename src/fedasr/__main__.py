from fedasr.cli.app import main

main()
