module {{backendModule}}

go 1.24
