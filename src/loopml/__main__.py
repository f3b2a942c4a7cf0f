from loopml.cli import main

main()
