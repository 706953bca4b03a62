print("nslab")
