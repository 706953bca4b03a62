// NetnsModel
