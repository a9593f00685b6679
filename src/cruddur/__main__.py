from cruddur.cli import main

main()
