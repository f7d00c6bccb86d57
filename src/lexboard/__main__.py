from lexboard.cli import main

main()
