from crmferry.cli import main

main()
